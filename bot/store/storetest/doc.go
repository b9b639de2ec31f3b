// Package storetest holds the contract suite every store.Store backend
// passes (Run), and helpers that give each test a fresh database: a
// temporary SQLite file (SQLiteDSN) or a temporary schema in the PostgreSQL
// database named by MEDIC_TEST_POSTGRES_DSN (PostgresDSN).
//
// To run the PostgreSQL tests, point MEDIC_TEST_POSTGRES_DSN at a database
// the test role may create schemas in, for example
//
//	MEDIC_TEST_POSTGRES_DSN='postgres://medic_test:PASSWORD@127.0.0.1:5432/medic_test' go test ./bot/store/...
//
// Without it they skip, unless MEDIC_REQUIRE_POSTGRES=1, when they fail:
// CI sets both (see .ci/run).
package storetest
