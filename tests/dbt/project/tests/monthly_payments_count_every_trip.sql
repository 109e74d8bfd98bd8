-- Singular test: after any number of incremental runs, insert_overwrite has neither
-- lost nor duplicated a month: the table counts every trip once.
select counted, trips
from (
    select
        (select sum(trips) from {{ ref('monthly_payments') }}) as counted,
        (select count(*) from {{ ref('stg_trips') }}) as trips
)
where counted <> trips
