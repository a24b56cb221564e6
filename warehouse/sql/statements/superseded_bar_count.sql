-- Bar versions a later version replaced (all roots and sources).
select count(*) as n from bars where superseded_at is not null
