-- 010: the rows of the `call_changes` view, kept beside the snapshots they derive from. Computing
-- them on every read (a window over every current call and the texts of each change) took 1.6 s at
-- 1.2 million calls (bench/RESULTS.md, "Scale"); the writer now recomputes the changes of the calls
-- (root, author, methodology_version, source) it writes, in the same transaction
-- (statements/delete_call_changes.sql, insert_call_changes.sql). A warehouse upgraded to 010 gets
-- the rows of every stored call when it is opened for writing.

create table call_change_rows (
    root                 varchar not null,
    author               varchar not null,
    methodology_version  varchar not null,
    source               varchar not null,
    as_of                date not null,      -- the session of the call that changed (CME trade date)
    prev_as_of           date not null,      -- the session of the call before it
    what                 varchar not null,   -- primary_trend | perspective | line_in_the_sand | bias_defining | probabilities
    before               varchar,            -- the value at prev_as_of (levels: low–high, index points)
    after                varchar,            -- the value at as_of
    why                  varchar             -- the reason, from the stored change reason or the indicators
);
