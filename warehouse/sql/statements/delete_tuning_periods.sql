-- Forget a methodology's recorded tuning periods (each run records them anew).
delete from tuning_periods where methodology_version = $methodology_version
