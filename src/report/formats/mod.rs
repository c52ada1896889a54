//! The report's formats. Each renders the same [`Report`](super::Report).
