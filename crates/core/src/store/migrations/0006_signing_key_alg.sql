-- Placeholder until the RS256 key work lands (replaced by its migration).
SELECT 1;
