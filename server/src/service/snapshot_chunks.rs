//! The wire form of the `Snapshot` RPC: one raft snapshot message as a stream of
//! `SnapshotChunk`s. The first chunk carries the `RaftMessage` with its snapshot's `data` taken
//! out; the following chunks carry that data in pieces, in order. [`split_snapshot`] makes the
//! chunks (the sender, `RaftClient`), [`SnapshotAssembler`] puts them back together (the
//! receiver, the `Snapshot` RPC). Both are pure: no I/O.

use basalt_proto::raft_serverpb::{RaftMessage, SnapshotChunk};

/// How much snapshot data one chunk carries: 1 MiB.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// The snapshot data a receiver accepts must stay under this: 4 GiB.
pub const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;

/// Why a chunk stream is not one snapshot message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The stream ended before any chunk carried the message.
    #[error("the snapshot stream carries no raft message")]
    MissingMessage,
    /// The first chunk carried data but no message.
    #[error("the snapshot stream carries data before its raft message")]
    DataBeforeMessage,
    /// A chunk after the first carried a message again.
    #[error("the snapshot stream carries a second raft message")]
    SecondMessage,
    /// The data reached the receiver's limit.
    #[error("the snapshot data reaches {limit} bytes, more than a receiver accepts")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Splits a snapshot message into chunks of at most `chunk_bytes` data each (at least 1). The
/// chunks are made lazily, so the data is held once plus the chunk being sent.
pub fn split_snapshot(mut message: RaftMessage, chunk_bytes: usize) -> SnapshotChunks {
    let data = message
        .message
        .as_mut()
        .and_then(|raft| raft.snapshot.as_mut())
        .map(|snapshot| std::mem::take(&mut snapshot.data))
        .unwrap_or_default();
    SnapshotChunks {
        message: Some(message),
        data,
        offset: 0,
        chunk_bytes: chunk_bytes.max(1),
    }
}

/// The chunks of one snapshot message, from [`split_snapshot`].
#[derive(Debug)]
pub struct SnapshotChunks {
    message: Option<RaftMessage>,
    data: Vec<u8>,
    offset: usize,
    chunk_bytes: usize,
}

impl SnapshotChunks {
    /// How many bytes of snapshot data the chunks carry in all.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
}

impl Iterator for SnapshotChunks {
    type Item = SnapshotChunk;

    fn next(&mut self) -> Option<SnapshotChunk> {
        if let Some(message) = self.message.take() {
            return Some(SnapshotChunk {
                message: Some(message),
                data: Vec::new(),
            });
        }
        if self.offset >= self.data.len() {
            return None;
        }
        let end = self.data.len().min(self.offset + self.chunk_bytes);
        let data = self.data[self.offset..end].to_vec();
        self.offset = end;
        Some(SnapshotChunk {
            message: None,
            data,
        })
    }
}

/// Puts a chunk stream back into one snapshot message, checking its shape as chunks arrive.
#[derive(Debug)]
pub struct SnapshotAssembler {
    message: Option<RaftMessage>,
    data: Vec<u8>,
    limit: u64,
}

impl Default for SnapshotAssembler {
    fn default() -> Self {
        Self::with_limit(MAX_SNAPSHOT_BYTES)
    }
}

impl SnapshotAssembler {
    /// An assembler accepting less than [`MAX_SNAPSHOT_BYTES`] of data.
    pub fn new() -> Self {
        Self::default()
    }

    /// An assembler accepting less than `limit` bytes of data.
    pub fn with_limit(limit: u64) -> Self {
        SnapshotAssembler {
            message: None,
            data: Vec::new(),
            limit,
        }
    }

    /// Takes the next chunk. The first must carry the message (and may carry data); the others
    /// carry data only.
    pub fn push(&mut self, chunk: SnapshotChunk) -> Result<(), ChunkError> {
        match (self.message.is_some(), chunk.message) {
            (false, Some(message)) => self.message = Some(message),
            (false, None) if chunk.data.is_empty() => return Err(ChunkError::MissingMessage),
            (false, None) => return Err(ChunkError::DataBeforeMessage),
            (true, Some(_)) => return Err(ChunkError::SecondMessage),
            (true, None) => {}
        }
        let total = (self.data.len() as u64).saturating_add(chunk.data.len() as u64);
        if total >= self.limit {
            return Err(ChunkError::TooLarge { limit: self.limit });
        }
        if self.data.is_empty() {
            self.data = chunk.data;
        } else {
            self.data.extend_from_slice(&chunk.data);
        }
        Ok(())
    }

    /// The message with its snapshot data put back.
    pub fn finish(self) -> Result<RaftMessage, ChunkError> {
        let mut message = self.message.ok_or(ChunkError::MissingMessage)?;
        if !self.data.is_empty() {
            message
                .message
                .get_or_insert_with(Default::default)
                .snapshot
                .get_or_insert_with(Default::default)
                .data = self.data;
        }
        Ok(message)
    }
}

/// Puts `chunks` back into one snapshot message, with the default limit.
pub fn reassemble_snapshot(
    chunks: impl IntoIterator<Item = SnapshotChunk>,
) -> Result<RaftMessage, ChunkError> {
    let mut assembler = SnapshotAssembler::new();
    for chunk in chunks {
        assembler.push(chunk)?;
    }
    assembler.finish()
}

#[cfg(test)]
mod tests {
    use basalt_proto::{eraftpb, metapb};
    use proptest::prelude::*;

    use super::*;

    fn snapshot_message(region_id: u64, index: u64, data: Vec<u8>) -> RaftMessage {
        RaftMessage {
            region_id,
            from_peer: Some(metapb::Peer {
                id: 1,
                store_id: 1,
                ..Default::default()
            }),
            to_peer: Some(metapb::Peer {
                id: 2,
                store_id: 2,
                ..Default::default()
            }),
            message: Some(eraftpb::Message {
                msg_type: eraftpb::MessageType::MsgSnapshot as i32,
                snapshot: Some(eraftpb::Snapshot {
                    data,
                    metadata: Some(eraftpb::SnapshotMetadata {
                        index,
                        term: 3,
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    proptest! {
        #[test]
        fn split_then_reassemble_round_trips(
            region_id in any::<u64>(),
            index in any::<u64>(),
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            chunk_bytes in 1usize..300,
        ) {
            let message = snapshot_message(region_id, index, data.clone());
            let chunks: Vec<_> = split_snapshot(message.clone(), chunk_bytes).collect();
            prop_assert_eq!(chunks.len(), 1 + data.len().div_ceil(chunk_bytes));
            prop_assert!(chunks[0].message.is_some());
            prop_assert!(chunks[0].data.is_empty());
            let first = chunks[0].message.as_ref().and_then(|m| m.message.as_ref());
            prop_assert!(first.and_then(|m| m.snapshot.as_ref()).is_some_and(|s| s.data.is_empty()));
            for chunk in &chunks[1..] {
                prop_assert!(chunk.message.is_none());
                prop_assert!(!chunk.data.is_empty() && chunk.data.len() <= chunk_bytes);
            }
            prop_assert_eq!(reassemble_snapshot(chunks), Ok(message));
        }
    }

    #[test]
    fn default_chunks_are_one_mebibyte() {
        let data: Vec<u8> = (0..(5 * SNAPSHOT_CHUNK_BYTES / 2))
            .map(|i| i as u8)
            .collect();
        let message = snapshot_message(7, 10, data);
        let chunks: Vec<_> = split_snapshot(message.clone(), SNAPSHOT_CHUNK_BYTES).collect();
        let sizes: Vec<_> = chunks.iter().map(|chunk| chunk.data.len()).collect();
        assert_eq!(
            sizes,
            [
                0,
                SNAPSHOT_CHUNK_BYTES,
                SNAPSHOT_CHUNK_BYTES,
                SNAPSHOT_CHUNK_BYTES / 2
            ]
        );
        assert_eq!(reassemble_snapshot(chunks), Ok(message));
    }

    #[test]
    fn a_message_without_a_snapshot_is_one_chunk() {
        let message = RaftMessage {
            region_id: 3,
            ..Default::default()
        };
        let chunks: Vec<_> = split_snapshot(message.clone(), 16).collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(reassemble_snapshot(chunks), Ok(message));
    }

    #[test]
    fn an_empty_stream_has_no_message() {
        assert_eq!(
            reassemble_snapshot(Vec::new()),
            Err(ChunkError::MissingMessage)
        );
        let empty = SnapshotChunk::default();
        assert_eq!(
            reassemble_snapshot(vec![empty]),
            Err(ChunkError::MissingMessage)
        );
    }

    #[test]
    fn data_before_the_message_is_rejected() {
        let mut chunks: Vec<_> = split_snapshot(snapshot_message(1, 1, vec![1; 10]), 4).collect();
        chunks.swap(0, 1);
        assert_eq!(
            reassemble_snapshot(chunks),
            Err(ChunkError::DataBeforeMessage)
        );
    }

    #[test]
    fn a_second_message_is_rejected() {
        let mut chunks: Vec<_> = split_snapshot(snapshot_message(1, 1, vec![1; 10]), 4).collect();
        chunks[2].message = Some(RaftMessage::default());
        assert_eq!(reassemble_snapshot(chunks), Err(ChunkError::SecondMessage));
    }

    #[test]
    fn data_must_stay_under_the_limit() {
        let chunks = || split_snapshot(snapshot_message(1, 1, vec![1; 10]), 4);
        let mut assembler = SnapshotAssembler::with_limit(10);
        let pushed: Result<Vec<()>, _> = chunks().map(|chunk| assembler.push(chunk)).collect();
        assert_eq!(pushed, Err(ChunkError::TooLarge { limit: 10 }));
        let mut assembler = SnapshotAssembler::with_limit(11);
        for chunk in chunks() {
            assembler.push(chunk).expect("under the limit");
        }
        assert!(assembler.finish().is_ok());
    }

    #[test]
    fn the_first_chunk_may_carry_data_too() {
        let message = snapshot_message(4, 4, b"abcdef".to_vec());
        let chunks = vec![
            SnapshotChunk {
                message: Some(snapshot_message(4, 4, Vec::new())),
                data: b"abc".to_vec(),
            },
            SnapshotChunk {
                message: None,
                data: b"def".to_vec(),
            },
        ];
        assert_eq!(reassemble_snapshot(chunks), Ok(message));
    }
}
