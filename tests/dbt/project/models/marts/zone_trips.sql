-- A partitioned, bucketed table (CTAS with partitioned_by, bucketed_by/bucket_count, zstd
-- Parquet) over an ephemeral model.
{{ config(partitioned_by=['year'], bucketed_by=['zone'], bucket_count=4, write_compression='zstd') }}

select
    z.borough,
    z.zone,
    count(*) as trips,
    t.year
from {{ ref('stg_trips') }} as t
join {{ ref('int_zone_names') }} as z on t.pickup_location_id = z.location_id
group by z.borough, z.zone, t.year
