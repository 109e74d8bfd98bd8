select
    vendor_id,
    pickup_datetime,
    dropoff_datetime,
    passenger_count,
    trip_distance,
    pickup_location_id,
    dropoff_location_id,
    payment_type,
    fare_amount,
    tip_amount,
    total_amount,
    cast(pickup_datetime as date) as pickup_date,
    year,
    month
from {{ source('sample', 'trips') }}
