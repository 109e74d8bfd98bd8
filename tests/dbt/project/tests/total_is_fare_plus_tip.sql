-- Singular test: every trip's total is its fare, its tip and the 0.50 surcharge.
select *
from {{ ref('stg_trips') }}
where abs(total_amount - (fare_amount + tip_amount + 0.5)) > 0.011
