//! The sqllogictest runner and TPC-H checks for the SQL front. Filled by the SQL front issue.
