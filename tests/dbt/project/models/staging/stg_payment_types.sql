select
    payment_type,
    description
from {{ source('sample', 'payment_types') }}
