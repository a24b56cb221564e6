-- Every connection reads and writes timestamps in UTC (timestamptz columns print as UTC).
set TimeZone = 'UTC'
