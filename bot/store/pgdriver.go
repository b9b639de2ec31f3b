package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A minimal database/sql driver over pgx.Conn, so both backends share
// database/sql's pool and one implementation of the queries. (pgx's own
// stdlib driver needs pgxpool and its puddle dependency, which medic does
// not otherwise require.) It supports what this package uses: Exec and
// Query with arguments, and read-committed transactions.

// pgConnector opens pgx connections with a parsed configuration.
type pgConnector struct{ cfg *pgx.ConnConfig }

func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &pgConn{conn: conn, lastReset: time.Now()}, nil
}

func (c *pgConnector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("store: open PostgreSQL through its connector")
}

// pgConn is one connection. database/sql uses it from one goroutine at a
// time.
type pgConn struct {
	conn *pgx.Conn
	// lastReset is when database/sql last took it from the pool.
	lastReset time.Time
}

// pingAfter is how long a connection may sit idle before it is pinged on
// its way out of the pool, so a connection the server dropped is replaced
// rather than failing a statement.
const pingAfter = time.Second

var (
	_ driver.Connector         = (*pgConnector)(nil)
	_ driver.Conn              = (*pgConn)(nil)
	_ driver.ExecerContext     = (*pgConn)(nil)
	_ driver.QueryerContext    = (*pgConn)(nil)
	_ driver.ConnBeginTx       = (*pgConn)(nil)
	_ driver.Pinger            = (*pgConn)(nil)
	_ driver.Validator         = (*pgConn)(nil)
	_ driver.SessionResetter   = (*pgConn)(nil)
	_ driver.NamedValueChecker = (*pgConn)(nil)
	_ driver.Rows              = (*pgRows)(nil)
	_ driver.Tx                = (*pgTx)(nil)
)

func (c *pgConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("store: prepared statements are not supported")
}

func (c *pgConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Close(ctx)
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	if opts.Isolation != driver.IsolationLevel(0) || opts.ReadOnly {
		return nil, errors.New("store: only default transactions are supported")
	}
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return nil, badConn(err)
	}
	return &pgTx{ctx: ctx, tx: tx}, nil
}

// CheckNamedValue passes every argument to pgx as it is.
func (c *pgConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	tag, err := c.conn.Exec(ctx, query, values(args)...)
	if err != nil {
		return nil, badConn(err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	rows, err := c.conn.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, badConn(err)
	}
	return &pgRows{rows: rows}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	if c.conn.IsClosed() {
		return driver.ErrBadConn
	}
	return badConn(c.conn.Ping(ctx))
}

// IsValid tells database/sql to drop a connection pgx has closed (after a
// network error or a cancelled query).
func (c *pgConn) IsValid() bool { return !c.conn.IsClosed() }

// ResetSession runs when database/sql takes the connection from the pool
// for reuse: it refuses a closed connection, one left inside a
// transaction, and an idle one that does not answer a ping.
func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.conn.IsClosed() || c.conn.PgConn().TxStatus() != 'I' {
		return driver.ErrBadConn
	}
	now := time.Now()
	idle := now.Sub(c.lastReset)
	c.lastReset = now
	if idle > pingAfter {
		if err := c.conn.PgConn().Ping(ctx); err != nil {
			return driver.ErrBadConn
		}
	}
	return nil
}

// badConn turns an error that happened before anything reached the server
// into driver.ErrBadConn, so database/sql retries on another connection.
func badConn(err error) error {
	if err != nil && pgconn.SafeToRetry(err) {
		return driver.ErrBadConn
	}
	return err
}

func values(args []driver.NamedValue) []any {
	v := make([]any, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}

// pgTx is a transaction; its BeginTx context bounds its commit.
type pgTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t *pgTx) Commit() error { return t.tx.Commit(t.ctx) }

func (t *pgTx) Rollback() error {
	// Roll back even when ctx is done: database/sql rolls back because
	// it is.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	return t.tx.Rollback(ctx)
}

type pgRows struct {
	rows pgx.Rows
	cols []string
}

func (r *pgRows) Columns() []string {
	if r.cols == nil {
		for _, f := range r.rows.FieldDescriptions() {
			r.cols = append(r.cols, f.Name)
		}
	}
	return r.cols
}

func (r *pgRows) Close() error {
	r.rows.Close()
	return r.rows.Err()
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch x := v.(type) {
		case int16:
			v = int64(x)
		case int32:
			v = int64(x)
		}
		dest[i] = v
	}
	return nil
}
