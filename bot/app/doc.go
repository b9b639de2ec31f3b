// Package app wires medic's stages together and runs them: the OTLP
// receiver feeds the detect engine, whose anomalies go to the next stage.
// It is the only package that knows every concrete implementation; cmd/medic
// only parses flags and calls it, so end-to-end tests run the whole program
// in-process.
//
// What is wired today: OTLP receiver -> detect engine -> anomaly log (the
// recent anomalies are served at /api/anomalies). Incidents, the crew,
// patchers, the policy gate, the forges and verification join as they land.
package app
