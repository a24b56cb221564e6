-- The whole database copied into a new file ($path) with COPY FROM DATABASE: the alternative to
-- publish's file copy that bench/bench_scale.py measures. Three statements, run one by one.
attach $path as copy_target;
copy from database warehouse to copy_target;
detach copy_target
