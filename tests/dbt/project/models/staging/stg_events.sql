-- Nested JSON: useridentity is a struct.
select
    eventid as event_id,
    useridentity.username as user_name,
    eventname as event_name,
    eventsource as event_source
from {{ source('sample', 'cloudtrail') }}
