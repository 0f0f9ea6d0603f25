"""Files in and out: data tables (CSV, .npy, .npz, Parquet), data read by chunks and its survey, atomic
writes, data references, parameter exports and sessions."""
