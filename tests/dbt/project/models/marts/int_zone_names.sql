-- Ephemeral: inlined as a CTE wherever it is used.
{{ config(materialized='ephemeral') }}

select location_id, borough, zone
from {{ ref('stg_zones') }}
