"""The Helm chart's contract: the values model (source of values.schema.json) and the generator
that writes the chart's derived files (values.schema.json, CRD templates)."""
