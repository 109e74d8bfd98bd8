"""A dbt project run against a real ``shoal serve`` (scripts/dbt-project).

``project/`` is the dbt project; ``run`` drives it (seed, build, more data, a second
incremental run); ``expected`` computes what its tables must hold from the sample files
with pyarrow alone; ``built`` reads what dbt built, through the Glue catalog and the
files themselves, and compares.
"""
