-- Incremental, append: a later run adds the days after the last one it holds
-- (late rows for days already there are, by design, not picked up).
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    pickup_date,
    count(*) as trips,
    sum(passenger_count) as passengers,
    sum(trip_distance) as distance
from {{ ref('stg_trips') }}
{% if is_incremental() %}
where pickup_date > (select max(pickup_date) from {{ this }})
{% endif %}
group by pickup_date
