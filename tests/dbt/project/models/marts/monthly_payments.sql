-- Incremental, insert_overwrite: a later run rebuilds the newest month it holds and
-- every month after it, replacing those partitions whole.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partitioned_by=['year', 'month'],
) }}

select
    v.vendor_name,
    t.payment_type,
    count(*) as trips,
    sum(t.total_amount) as revenue,
    t.year,
    t.month
from {{ ref('stg_trips') }} as t
join {{ ref('vendors') }} as v on t.vendor_id = v.vendor_id
{% if is_incremental() %}
where t.year || t.month >= (select max(year || month) from {{ this }})
{% endif %}
group by v.vendor_name, t.payment_type, t.year, t.month
