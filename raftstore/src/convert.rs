//! Raft-rs speaks rust-protobuf; the wire and the rest of Basalt speak prost. The two are the
//! same bytes, so converting is encoding with one and decoding with the other.

use basalt_proto::eraftpb as wire;
use basalt_storage::{Error, Result};
use prost::Message as _;
use protobuf::Message as _;

/// A raft-rs message in its wire form.
pub fn message_to_wire(message: &raft::eraftpb::Message) -> Result<wire::Message> {
    let bytes = message
        .write_to_bytes()
        .map_err(|err| Error::Engine(format!("encoding a raft message: {err}")))?;
    wire::Message::decode(bytes.as_slice())
        .map_err(|err| Error::Engine(format!("re-reading a raft message: {err}")))
}

/// A wire message for raft-rs.
pub fn message_from_wire(message: &wire::Message) -> Result<raft::eraftpb::Message> {
    raft::eraftpb::Message::parse_from_bytes(&message.encode_to_vec())
        .map_err(|err| Error::InvalidRequest(format!("malformed raft message: {err}")))
}

/// A raft-rs log entry in its wire form.
pub fn entry_to_wire(entry: &raft::eraftpb::Entry) -> Result<wire::Entry> {
    let bytes = entry
        .write_to_bytes()
        .map_err(|err| Error::Engine(format!("encoding a raft entry: {err}")))?;
    wire::Entry::decode(bytes.as_slice())
        .map_err(|err| Error::Engine(format!("re-reading a raft entry: {err}")))
}

/// A wire log entry for raft-rs.
pub fn entry_from_wire(entry: &wire::Entry) -> Result<raft::eraftpb::Entry> {
    raft::eraftpb::Entry::parse_from_bytes(&entry.encode_to_vec())
        .map_err(|err| Error::InvalidRequest(format!("malformed raft entry: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::{Entry, Message, MessageType};

    #[test]
    fn messages_round_trip_including_raft_rs_only_fields() {
        let mut message = Message::default();
        message.set_msg_type(MessageType::MsgAppend);
        message.to = 2;
        message.from = 1;
        message.term = 7;
        message.commit = 9;
        // Field 15 is `commit_term` for raft-rs 0.7 and `priority` in kvproto: it must survive
        // the trip through the wire type.
        message.commit_term = 6;
        let entry = Entry {
            index: 10,
            term: 7,
            data: b"payload".to_vec().into(),
            ..Default::default()
        };
        message.entries.push(entry);
        let wire = message_to_wire(&message).unwrap();
        assert_eq!(wire.msg_type, wire::MessageType::MsgAppend as i32);
        assert_eq!(wire.entries[0].data, b"payload");
        assert_eq!(message_from_wire(&wire).unwrap(), message);
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let wire = wire::Message {
            msg_type: 99,
            ..Default::default()
        };
        // An unknown enum value is kept by prost and refused or defaulted by raft-rs, never a
        // panic.
        let _ = message_from_wire(&wire);
    }
}
