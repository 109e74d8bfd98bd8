-- A table (CTAS): fares by pickup borough and payment type.
select
    z.borough,
    p.description as payment,
    count(*) as trips,
    sum(t.fare_amount) as fare_total,
    sum(t.tip_amount) as tip_total
from {{ ref('stg_trips') }} as t
join {{ ref('stg_zones') }} as z on t.pickup_location_id = z.location_id
join {{ ref('stg_payment_types') }} as p on t.payment_type = p.payment_type
group by z.borough, p.description
