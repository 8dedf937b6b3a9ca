"""Operations: which sources are due, the locks that keep runs from overlapping, and status."""
