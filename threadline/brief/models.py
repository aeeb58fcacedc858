"""The brief is computed from the record and stores nothing of its own."""
