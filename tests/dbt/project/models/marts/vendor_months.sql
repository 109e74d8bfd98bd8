-- Incremental, insert_overwrite in batches of partitions (force_batch), and a column
-- that appears on a later run (var with_fares) added to the table by
-- on_schema_change='append_new_columns' (ALTER TABLE ... ADD COLUMNS).
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partitioned_by=['month'],
    force_batch=true,
    on_schema_change='append_new_columns',
) }}

select
    vendor_id,
    count(*) as trips,
    {% if var('with_fares', false) %}sum(fare_amount) as fares,{% endif %}
    month
from {{ ref('stg_trips') }}
{% if is_incremental() %}
where month >= (select max(month) from {{ this }})
{% endif %}
group by vendor_id, month
