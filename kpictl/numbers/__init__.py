"""Numbers, no printing: `actuals` reads actual values, `periods` the target periods,
`evaluate` says where each KPI stands, `status` makes the scorecard of it."""
