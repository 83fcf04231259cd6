"""Numbers, no printing: `actuals` reads actual values, `periods` the target periods,
`evaluate` says where each KPI stands, `status` makes the scorecard of it.
`connections` says which database a URL names; `store` (tables in `store_schema`)
keeps every observation; `transfer` moves values between CSV files and the store.
`pull` plans what `kpictl pull` computes in the warehouse; `queries` runs one query
safely and reads its one answer."""
