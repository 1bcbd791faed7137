package migrations

import (
	"context"
	"database/sql/driver"
	"errors"
)

// keptStatements is how many compiled statements a SQLite connection keeps.
// The write path's statements come in a few texts each (sqlstore pads its
// multi-row statements to a few sizes); other queries take what is left,
// and a full cache starts over.
const keptStatements = 512

// keepingConnector opens SQLite connections that compile each statement
// text once and keep it. SQLite compiles a statement in process, every time
// database/sql runs one; for the webhook writer that was an eighth of its
// CPU (docs/benchmarks.md). The connection offers no Exec or Query of its
// own, so database/sql prepares every statement, and the prepare is
// answered from the cache.
type keepingConnector struct{ driver.Connector }

func (c keepingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &keepingConn{modernConn: conn.(modernConn), stmts: map[string]*keptStmt{}}, nil
}

// modernConn and modernStmt are what database/sql uses of a
// modernc.org/sqlite connection and statement, less the connection's own
// Exec and Query.
type modernConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type modernStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// keepingConn is a connection with its compiled statements. database/sql
// uses a connection from one goroutine at a time, so it needs no lock.
type keepingConn struct {
	modernConn
	stmts map[string]*keptStmt
}

// Unwrap is the modernc.org/sqlite connection.
func (c *keepingConn) Unwrap() driver.Conn { return c.modernConn }

func (c *keepingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns the kept statement for query, compiling it the
// first time. A statement still in use (its rows being read, say) is not
// handed out twice: the second caller gets one of its own.
func (c *keepingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok && !s.inUse {
		s.inUse = true
		return s, nil
	} else if ok {
		return c.modernConn.PrepareContext(ctx, query)
	}
	st, err := c.modernConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= keptStatements {
		c.forget()
	}
	s := &keptStmt{modernStmt: st.(modernStmt), inUse: true}
	c.stmts[query] = s
	return s, nil
}

// forget closes the kept statements not in use.
func (c *keepingConn) forget() {
	for q, s := range c.stmts {
		if !s.inUse {
			s.modernStmt.Close()
			delete(c.stmts, q)
		}
	}
}

func (c *keepingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.modernStmt.Close())
	}
	return errors.Join(append(errs, c.modernConn.Close())...)
}

// keptStmt is a compiled statement that outlives database/sql's use of it.
// database/sql closes a statement when it is done with it: after an Exec,
// once a Query's rows are closed, or when a prepared *sql.Stmt is closed.
type keptStmt struct {
	modernStmt
	inUse bool // handed out and not closed yet
}

// Close keeps the statement for the next caller; the connection closes it.
func (s *keptStmt) Close() error {
	s.inUse = false
	return nil
}
