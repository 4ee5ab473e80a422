//! baler-udfs
