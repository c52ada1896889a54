//! STUB (helper A)
