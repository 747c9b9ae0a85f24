//! Arrow IPC stream bytes: how batches and schemas cross the WIT boundary.
//!
//! Every batch is sent as a complete stream (schema, one batch, end marker),
//! so each can be decoded on its own by any Arrow library without state.

use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Schema, SchemaRef};

/// One batch as a complete IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// A schema as an IPC stream with no batches.
pub fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// Decodes an IPC stream into its schema and batches.
pub fn decode_stream(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let invalid = |error: arrow_schema::ArrowError| {
        Error::InvalidArgument(format!("invalid Arrow IPC stream: {error}"))
    };
    let reader = StreamReader::try_new(bytes, None).map_err(invalid)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(invalid)?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use std::sync::Arc;

    #[test]
    fn batches_and_schemas_round_trip() {
        let batch =
            RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![1, 2])) as _)])
                .unwrap();
        let (schema, batches) = decode_stream(&encode_batch(&batch).unwrap()).unwrap();
        assert_eq!(schema, batch.schema());
        assert_eq!(batches, vec![batch.clone()]);
        let (schema, batches) = decode_stream(&encode_schema(&batch.schema()).unwrap()).unwrap();
        assert_eq!(schema, batch.schema());
        assert!(batches.is_empty());
        assert!(decode_stream(b"garbage").is_err());
    }
}
