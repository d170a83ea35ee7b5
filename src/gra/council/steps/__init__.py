"""Pipeline steps. Each owns its prompt template and schema; building a request
and parsing a reply are pure functions, so they are tested without a model."""
