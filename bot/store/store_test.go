package store_test

import (
	"testing"

	"github.com/medic-bot/medic/bot/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.Opener(storetest.SQLiteDSN))
}

func TestPostgres(t *testing.T) {
	storetest.PostgresBase(t) // skip or fail here, once, when unconfigured
	storetest.Run(t, storetest.Opener(storetest.PostgresDSN))
}
