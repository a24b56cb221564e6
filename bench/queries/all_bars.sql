select * from bars
