package github

import (
	"bytes"
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/redact"
)

// WebhookPath is where the webhook receiver is mounted.
const WebhookPath = "/webhooks/github"

// DefaultMaxWebhookBody is GitHub's own cap on a delivery's payload: 25 MB.
const DefaultMaxWebhookBody int64 = 25 << 20

// Webhook receiver defaults.
const (
	DefaultWebhookQueueSize      = 256
	DefaultWebhookWorkers        = 4
	DefaultWebhookHandlerTimeout = 5 * time.Minute
	// DefaultOutboxLease is how long a receiver holds an outbox event it
	// saved or claimed before another receiver may claim it, unless it
	// renews the lease, as it does every lease/3 while the event waits in
	// its queue or is handled. So it is about how long the events of a
	// receiver that crashed wait before another one takes them. One
	// minute leaves two renewals (20 s apart) that may fail or be late,
	// to a slow database or a long GC pause, before a live receiver's
	// event is taken from it, while a crashed receiver's events wait a
	// minute (plus OutboxPoll), not a quarter of an hour.
	DefaultOutboxLease = time.Minute
	// MinOutboxLease is the shortest lease accepted: a renewal (a write
	// to the store) must fit in a third of it.
	MinOutboxLease = 3 * time.Second
	// DefaultOutboxPoll is how often a receiver claims pending outbox
	// events.
	DefaultOutboxPoll = 30 * time.Second
	// DefaultWebhookMaxReaders bounds the deliveries read at once.
	DefaultWebhookMaxReaders = 64
	// DefaultWebhookBodyBudget bounds the body bytes they hold beyond
	// their first WebhookBodyFloor: room for two deliveries of GitHub's
	// largest size and more.
	DefaultWebhookBodyBudget int64 = 64 << 20
	// DefaultWebhookBodyTimeout is how long a body may take to arrive:
	// GitHub itself gives up on a delivery not answered in 10 seconds.
	DefaultWebhookBodyTimeout = 10 * time.Second
	// WebhookBodyFloor is the buffer every reader comes with, outside the
	// body budget: a delivery no larger than this (most of GitHub's are a
	// few KiB) is read whenever a reader is free, however much of the
	// budget a flood of large bodies holds.
	WebhookBodyFloor = 32 << 10
)

// WebhookLimits bound what deliveries can make the receiver hold before
// their signature is checked, that is what anyone who reaches the
// listener can. Zero fields take their defaults.
type WebhookLimits struct {
	// MaxBody is the largest payload accepted, in bytes
	// (DefaultMaxWebhookBody when 0); a larger one is answered 413.
	MaxBody int64 `yaml:"max_body"`
	// MaxReaders bounds the deliveries being read or checked at once
	// (DefaultWebhookMaxReaders when 0); further ones are answered 503
	// with Retry-After before their body is read.
	MaxReaders int `yaml:"max_readers"`
	// BodyBudget bounds the buffer bytes, beyond each body's first
	// WebhookBodyFloor, that the deliveries being read hold together
	// (DefaultWebhookBodyBudget when 0). A body's buffer grows only as
	// its bytes arrive, at most doubling, and each growth is reserved
	// from the budget; a body that would overdraw it is cut and answered
	// 503 with Retry-After. It must be at least MaxBody, so that one
	// delivery of the largest size fits.
	BodyBudget int64 `yaml:"body_budget"`
	// BodyTimeout is how long a body may take to arrive once its headers
	// were read (DefaultWebhookBodyTimeout when 0); a slower one is cut
	// and answered 408.
	BodyTimeout time.Duration `yaml:"body_timeout"`
}

// DefaultWebhookLimits returns the defaults: 25 MB bodies, 64 readers, a
// 64 MiB budget and 10 s to send a body.
func DefaultWebhookLimits() WebhookLimits {
	return WebhookLimits{
		MaxBody:     DefaultMaxWebhookBody,
		MaxReaders:  DefaultWebhookMaxReaders,
		BodyBudget:  DefaultWebhookBodyBudget,
		BodyTimeout: DefaultWebhookBodyTimeout,
	}
}

// withDefaults fills the zero fields.
func (l WebhookLimits) withDefaults() WebhookLimits {
	d := DefaultWebhookLimits()
	if l.MaxBody == 0 {
		l.MaxBody = d.MaxBody
	}
	if l.MaxReaders == 0 {
		l.MaxReaders = d.MaxReaders
	}
	if l.BodyBudget == 0 {
		l.BodyBudget = d.BodyBudget
	}
	if l.BodyTimeout == 0 {
		l.BodyTimeout = d.BodyTimeout
	}
	return l
}

// Validate reports every negative limit, and a budget too small for one
// body of MaxBody.
func (l WebhookLimits) Validate() error {
	var errs []error
	if l.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("max_body: must not be negative, got %d", l.MaxBody))
	}
	if l.MaxReaders < 0 {
		errs = append(errs, fmt.Errorf("max_readers: must not be negative, got %d", l.MaxReaders))
	}
	if l.BodyBudget < 0 {
		errs = append(errs, fmt.Errorf("body_budget: must not be negative, got %d", l.BodyBudget))
	}
	if l.BodyTimeout < 0 {
		errs = append(errs, fmt.Errorf("body_timeout: must not be negative, got %s", l.BodyTimeout))
	}
	if f := l.withDefaults(); errs == nil && f.BodyBudget < f.MaxBody {
		errs = append(errs, fmt.Errorf("body_budget: %d bytes cannot hold one body of max_body %d bytes", f.BodyBudget, f.MaxBody))
	}
	return errors.Join(errs...)
}

// MemoryBound is the most buffer memory the bodies being read hold at
// once, in bytes: a WebhookBodyFloor per reader plus the budget.
func (l WebhookLimits) MemoryBound() int64 {
	f := l.withDefaults()
	return int64(f.MaxReaders)*WebhookBodyFloor + f.BodyBudget
}

// Event types medic handles; every other type is answered 202 and ignored.
const (
	EventInstallation             = "installation"
	EventInstallationRepositories = "installation_repositories"
	EventPullRequest              = "pull_request"
	EventIssueComment             = "issue_comment"
	EventCheckRun                 = "check_run"
	EventCheckSuite               = "check_suite"
	EventPush                     = "push"
)

var handledEvents = map[string]bool{
	EventInstallation: true, EventInstallationRepositories: true, EventPullRequest: true,
	EventIssueComment: true, EventCheckRun: true, EventCheckSuite: true, EventPush: true,
}

// Headers GitHub sets on every delivery.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

// Log keys.
const (
	logKeyDelivery = "github_delivery"
	logKeyEvent    = "github_event"
	logKeyAction   = "github_action"
	logKeyRepo     = "github_repo"
)

// Event is one verified, parsed and deduplicated webhook delivery.
type Event struct {
	// Type is the X-GitHub-Event header, e.g. "pull_request".
	Type string
	// Action is the payload's action ("opened", "created", ...); "" for
	// events without one (push).
	Action string
	// DeliveryID is the X-GitHub-Delivery header, unique per delivery and
	// kept by redeliveries.
	DeliveryID string
	// InstallationID is the GitHub App installation the event is for; 0
	// when the payload names none.
	InstallationID int64
	// Repo is the repository the event is about; zero for installation
	// events, which may name several (see the payload).
	Repo forge.Repo
	// Sender is the login of the user who triggered the event.
	Sender string
	// Payload is go-github's typed event: *gh.PullRequestEvent,
	// *gh.IssueCommentEvent, *gh.CheckRunEvent, *gh.CheckSuiteEvent,
	// *gh.PushEvent, *gh.InstallationEvent or
	// *gh.InstallationRepositoriesEvent.
	Payload any
}

// EventHandler acts on webhook events. HandleEvent is called from the
// receiver's worker goroutines, so concurrently for different events and
// in no guaranteed order; it must be safe for concurrent use. ctx is
// cancelled when the handler's time is up or the receiver shuts down past
// its deadline. A returned error is logged and counted. Without an Outbox
// the delivery is not retried (GitHub was already answered 202); with one
// it is handled again later, until the outbox gives it up, so HandleEvent
// must tolerate seeing an event twice, and should mark errors that a retry
// cannot fix permanent (forge.Permanent).
type EventHandler interface {
	HandleEvent(ctx context.Context, ev Event) error
}

// EventHandlerFunc adapts a function to EventHandler.
type EventHandlerFunc func(ctx context.Context, ev Event) error

// HandleEvent calls f.
func (f EventHandlerFunc) HandleEvent(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Deliveries remembers which deliveries were seen, so that GitHub's
// redeliveries (same X-GitHub-Delivery id) are not handled twice. A store
// shared by several replicas makes the check atomic across them.
// Implementations are safe for concurrent use.
type Deliveries interface {
	// FirstDelivery records id as seen at time at and reports whether it
	// was seen for the first time. Of several concurrent calls with the
	// same id at most one returns true.
	FirstDelivery(ctx context.Context, id string, at time.Time) (bool, error)
}

// MemoryDeliveries is a bounded in-memory Deliveries for a single replica:
// it remembers the most recent max delivery ids and forgets the oldest
// first. Safe for concurrent use.
type MemoryDeliveries struct {
	mu    sync.Mutex
	max   int
	order *list.List // of string, oldest at the front
	seen  map[string]*list.Element
}

// DefaultMemoryDeliveries is how many ids NewMemoryDeliveries remembers
// when given max <= 0.
const DefaultMemoryDeliveries = 10000

// NewMemoryDeliveries returns an empty MemoryDeliveries remembering up to
// max ids (DefaultMemoryDeliveries when max <= 0).
func NewMemoryDeliveries(max int) *MemoryDeliveries {
	if max <= 0 {
		max = DefaultMemoryDeliveries
	}
	return &MemoryDeliveries{max: max, order: list.New(), seen: map[string]*list.Element{}}
}

// FirstDelivery implements Deliveries. A repeated id is not refreshed: ids
// are forgotten in the order they were first seen.
func (m *MemoryDeliveries) FirstDelivery(_ context.Context, id string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[id]; ok {
		return false, nil
	}
	for m.order.Len() >= m.max {
		oldest := m.order.Front()
		m.order.Remove(oldest)
		delete(m.seen, oldest.Value.(string))
	}
	m.seen[id] = m.order.PushBack(id)
	return true, nil
}

// Len is how many ids are remembered.
func (m *MemoryDeliveries) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// WebhookConfig configures a WebhookHandler.
type WebhookConfig struct {
	// Secrets are the webhook secrets a delivery may be signed with: the
	// current one, and during a rotation the previous one. At least one
	// non-empty secret is required.
	Secrets [][]byte
	// Deliveries deduplicates redeliveries. Required without an Outbox;
	// use NewMemoryDeliveries for a single replica. Not used with one.
	Deliveries Deliveries
	// Outbox, when set, keeps each accepted delivery until it has been
	// handled and deduplicates redeliveries instead of Deliveries: a
	// delivery is answered 202 only once it is saved, and events a
	// stopped receiver left unhandled are claimed and handled on Start and
	// every OutboxPoll. Nil keeps accepted events in memory only.
	Outbox Outbox
	// OutboxLease is how long this receiver holds an event it saved or
	// claimed before another may claim it (DefaultOutboxLease when 0, at
	// least MinOutboxLease). The receiver renews the leases of the events
	// it has queued or in hand every OutboxLease/3, so the lease bounds
	// how long a crashed receiver's events wait, not how long an event
	// may be handled.
	OutboxLease time.Duration
	// OutboxPoll is how often pending events are claimed
	// (DefaultOutboxPoll when 0).
	OutboxPoll time.Duration
	// OutboxOwner names this receiver in the outbox's leases; a random id
	// when "". Receivers sharing an outbox need distinct owners.
	OutboxOwner string
	// Handler receives accepted events. Required.
	Handler EventHandler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// QueueSize bounds the events accepted but not yet handled
	// (DefaultWebhookQueueSize when 0). A full queue answers 503.
	QueueSize int
	// Workers is how many events are handled at once
	// (DefaultWebhookWorkers when 0).
	Workers int
	// WebhookLimits bound the deliveries read before their signature is
	// checked.
	WebhookLimits
	// HandlerTimeout bounds one HandleEvent call
	// (DefaultWebhookHandlerTimeout when 0).
	HandlerTimeout time.Duration
	// Now is the clock passed to Deliveries and Outbox; time.Now when
	// nil.
	Now func() time.Time
}

// Validate reports every missing or out-of-range setting.
func (c WebhookConfig) Validate() error {
	var errs []error
	ok := false
	for _, s := range c.Secrets {
		if len(s) > 0 {
			ok = true
		}
	}
	if !ok {
		errs = append(errs, errors.New("secrets: at least one webhook secret is required"))
	}
	if c.Deliveries == nil && c.Outbox == nil {
		errs = append(errs, errors.New("deliveries: required without an outbox"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("handler: required"))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("queue_size: must not be negative, got %d", c.QueueSize))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers: must not be negative, got %d", c.Workers))
	}
	if err := c.WebhookLimits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HandlerTimeout < 0 {
		errs = append(errs, fmt.Errorf("handler_timeout: must not be negative, got %s", c.HandlerTimeout))
	}
	if c.OutboxPoll < 0 {
		errs = append(errs, fmt.Errorf("outbox_poll: must not be negative, got %s", c.OutboxPoll))
	}
	if c.OutboxLease != 0 && c.OutboxLease < MinOutboxLease {
		errs = append(errs, fmt.Errorf("outbox_lease: %s is shorter than the minimum %s", c.OutboxLease, MinOutboxLease))
	}
	return errors.Join(errs...)
}

// WebhookStats counts what the receiver did since it was built. Every
// request is counted once in Received and at most once in one of Busy,
// Unauthorized, Invalid, Ignored, Duplicates, Enqueued or Dropped.
type WebhookStats struct {
	// Received counts every request.
	Received uint64
	// Busy counts deliveries refused with 503 and Retry-After before
	// their signature could be checked: every reader was busy, or their
	// body would have overdrawn the body budget.
	Busy uint64
	// Unauthorized counts deliveries with a missing, malformed or wrong
	// signature (401).
	Unauthorized uint64
	// Invalid counts requests refused before dispatch for their method,
	// size, headers, payload or a body that missed its deadline (405,
	// 413, 400, 408).
	Invalid uint64
	// Ignored counts pings and events medic does not handle.
	Ignored uint64
	// Duplicates counts redeliveries of deliveries already accepted.
	Duplicates uint64
	// Enqueued counts events accepted into the queue (202).
	Enqueued uint64
	// Dropped counts events refused with 503 (queue full, delivery store
	// or outbox failing, receiver not running) and accepted events
	// abandoned when shutdown ran out of time (with an Outbox, they are
	// claimed again later).
	Dropped uint64
	// Recovered counts events claimed from the Outbox and queued: left
	// unhandled by a stopped receiver, or failed and retried. They are
	// not requests.
	Recovered uint64
	// OutboxErrors counts failed Outbox claims and finishes.
	OutboxErrors uint64
	// Dispatched counts events handed to the EventHandler.
	Dispatched uint64
	// Failed counts EventHandler calls that returned an error or panicked.
	Failed uint64
	// Queued is how many accepted events wait for a worker now.
	Queued int
	// Reading is how many deliveries are being read or checked now.
	Reading int
	// BodyBytes is how much of the body budget they hold now.
	BodyBytes int64
}

// WebhookHandler is the http.Handler for GitHub App webhook deliveries: it
// checks the signature before anything else, deduplicates redeliveries,
// parses the payload with go-github and hands the event to a bounded
// queue served by worker goroutines. Build it with NewWebhookHandler,
// Start it, and Shutdown it to drain the queue. Before Start and after
// Shutdown it answers 503, so GitHub keeps the delivery for a redelivery.
type WebhookHandler struct {
	secrets        [][]byte
	deliveries     Deliveries
	handler        EventHandler
	logger         *slog.Logger
	limits         WebhookLimits // defaults filled
	workers        int
	handlerTimeout time.Duration
	now            func() time.Time

	outbox Outbox // nil: deliveries only
	owner  string
	lease  time.Duration
	poll   time.Duration
	// held are the outbox events this receiver has queued or in hand:
	// the leases its heartbeat renews.
	heldMu sync.Mutex
	held   map[string]struct{}
	// newTicker makes the claim loop's and the heartbeat's tickers
	// (tests replace it to tick by hand).
	newTicker func(d time.Duration) (c <-chan time.Time, stop func())

	readers chan struct{} // one token per delivery being read or checked
	budget  byteBudget

	queue chan webhookJob
	slots chan struct{} // one token per accepted event not yet taken by a worker

	mu        sync.RWMutex // held for reading while an event is accepted
	accepting bool
	started   bool
	stopped   bool

	stopOnce sync.Once
	stopping chan struct{} // closed by Shutdown: workers drain and return
	done     chan struct{} // closed when every worker returned, or at Shutdown without Start
	ctx      context.Context
	cancel   context.CancelFunc

	received, busy, unauthorized, invalid, ignored, duplicates atomic.Uint64
	enqueued, dropped, dispatched, failed                      atomic.Uint64
	recovered, outboxErrors                                    atomic.Uint64
}

type webhookJob struct {
	ev Event
	// saved is true when ev is in the outbox, to be finished once
	// handled.
	saved bool
}

// NewWebhookHandler builds a receiver from cfg, filling defaults.
func NewWebhookHandler(cfg WebhookConfig) (*WebhookHandler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure github webhook: %w", err)
	}
	h := &WebhookHandler{
		deliveries:     cfg.Deliveries,
		handler:        cfg.Handler,
		logger:         cfg.Logger,
		limits:         cfg.WebhookLimits.withDefaults(),
		workers:        cfg.Workers,
		handlerTimeout: cfg.HandlerTimeout,
		now:            cfg.Now,
		outbox:         cfg.Outbox,
		owner:          cfg.OutboxOwner,
		lease:          cfg.OutboxLease,
		poll:           cfg.OutboxPoll,
		held:           map[string]struct{}{},
		newTicker:      realTicker,
		stopping:       make(chan struct{}),
		done:           make(chan struct{}),
	}
	for _, s := range cfg.Secrets {
		if len(s) > 0 {
			h.secrets = append(h.secrets, bytes.Clone(s))
		}
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	h.logger = h.logger.With("component", "github-webhook")
	h.readers = make(chan struct{}, h.limits.MaxReaders)
	h.budget.limit = h.limits.BodyBudget
	if h.workers == 0 {
		h.workers = DefaultWebhookWorkers
	}
	if h.handlerTimeout == 0 {
		h.handlerTimeout = DefaultWebhookHandlerTimeout
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.lease == 0 {
		h.lease = DefaultOutboxLease
	}
	if h.poll == 0 {
		h.poll = DefaultOutboxPoll
	}
	if h.owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		h.owner = "medic-" + hex.EncodeToString(b[:])
	}
	size := cfg.QueueSize
	if size == 0 {
		size = DefaultWebhookQueueSize
	}
	h.queue = make(chan webhookJob, size)
	h.slots = make(chan struct{}, size)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Start starts the workers and begins accepting deliveries. It returns at
// once; the workers run until Shutdown. With an Outbox, a goroutine claims
// pending events at once and then every OutboxPoll, until Shutdown. ctx is
// not kept. Starting twice, or after Shutdown, is an error.
func (h *WebhookHandler) Start(_ context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.stopped {
		return errors.New("start github webhook: already started or shut down")
	}
	h.started = true
	h.accepting = true
	var workers, all sync.WaitGroup
	for range h.workers {
		workers.Go(h.work)
	}
	workersDone := make(chan struct{})
	all.Go(func() {
		workers.Wait()
		close(workersDone)
	})
	if h.outbox != nil {
		all.Go(h.claimLoop)
		all.Go(func() { h.heartbeat(workersDone) })
	}
	go func() {
		all.Wait()
		close(h.done)
	}()
	return nil
}

// Shutdown stops accepting deliveries (they are answered 503, and GitHub
// can redeliver them) and waits until the workers have handled every
// accepted event, or ctx is done: then the events still in flight see
// their context cancelled, those still queued are dropped and counted,
// and Shutdown returns ctx's error. Shutdown is idempotent and safe
// without Start.
func (h *WebhookHandler) Shutdown(ctx context.Context) error {
	h.stopOnce.Do(func() {
		if h.mu.TryLock() {
			h.stopLocked()
			return
		}
		// Requests are being accepted (perhaps waiting on a slow
		// delivery store): wait for them in a goroutine, so that ctx is
		// still honoured meanwhile.
		go func() {
			h.mu.Lock()
			h.stopLocked()
		}()
	})
	select {
	case <-h.done: // first, should ctx be done too
		h.cancel()
		return nil
	default:
	}
	select {
	case <-h.done:
		h.cancel()
		return nil
	case <-ctx.Done():
		h.cancel()
		return fmt.Errorf("drain github webhook queue: %w", ctx.Err())
	}
}

// stopLocked stops accepting deliveries and tells the workers to drain;
// it is called with h.mu locked and unlocks it.
func (h *WebhookHandler) stopLocked() {
	h.stopped = true
	h.accepting = false
	started := h.started
	h.mu.Unlock()
	close(h.stopping)
	if !started {
		close(h.done) // no worker will
	}
}

func (h *WebhookHandler) work() {
	for {
		select {
		case j := <-h.queue:
			<-h.slots
			h.dispatch(j)
		case <-h.stopping:
			// No event is accepted any more: drain what is queued.
			for {
				select {
				case j := <-h.queue:
					<-h.slots
					h.dispatch(j)
				default:
					return
				}
			}
		}
	}
}

func (h *WebhookHandler) dispatch(j webhookJob) {
	ev := j.ev
	log := h.logger.With(logKeyDelivery, ev.DeliveryID, logKeyEvent, ev.Type, logKeyAction, ev.Action)
	if h.ctx.Err() != nil {
		if j.saved {
			h.unhold(ev.DeliveryID)
		}
		h.dropped.Add(1)
		log.Warn("github webhook event dropped: shutdown ran out of time")
		return
	}
	h.dispatched.Add(1)
	ctx, cancel := context.WithTimeout(h.ctx, h.handlerTimeout)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("handler panicked: %v", p)
			}
		}()
		return h.handler.HandleEvent(ctx, ev)
	}()
	if err != nil {
		err = handlerError(err)
		h.failed.Add(1)
		log.Error("handle github webhook event", logKeyRepo, ev.Repo.String(), "error", err)
	}
	if j.saved {
		h.unhold(ev.DeliveryID) // the lease ends with the attempt
		if h.ctx.Err() != nil {
			// Shutdown ran out of time and cancelled the handler: not an
			// attempt. The event stays leased, to be claimed again.
			return
		}
		h.finish(log, ev.DeliveryID, err)
	}
}

// handlerError makes an error from handling an event fit to log and to
// store: every such error passes through it once, before the log line and
// the outbox record (FinishEvent keeps its text as the event's last
// error). Credentials in its text are scrubbed; errors.Is and errors.As
// still see err (forge.IsPermanent decides whether the event is retried).
func handlerError(err error) error { return redact.Error(err) }

// Stats returns the receiver's counters.
func (h *WebhookHandler) Stats() WebhookStats {
	return WebhookStats{
		Received:     h.received.Load(),
		Busy:         h.busy.Load(),
		Unauthorized: h.unauthorized.Load(),
		Invalid:      h.invalid.Load(),
		Ignored:      h.ignored.Load(),
		Duplicates:   h.duplicates.Load(),
		Enqueued:     h.enqueued.Load(),
		Dropped:      h.dropped.Load(),
		Dispatched:   h.dispatched.Load(),
		Failed:       h.failed.Load(),
		Recovered:    h.recovered.Load(),
		OutboxErrors: h.outboxErrors.Load(),
		Queued:       len(h.queue),
		Reading:      len(h.readers),
		BodyBytes:    h.budget.inUse(),
	}
}

// ServeHTTP answers one delivery. In order: 405 unless POST; 413 for a
// declared length over MaxBody; 503 with Retry-After when MaxReaders
// deliveries are being read; 413 for a body over MaxBody, 408 for one not
// received within BodyTimeout, 503 with Retry-After for one that would
// overdraw the BodyBudget (each cut where it is); 401 for a missing, malformed or wrong signature
// (nothing else is looked at); 400 without the event or delivery header;
// 200 for ping; 202 for an event medic does not handle; 400 for a payload
// go-github cannot parse; 503 when the queue is full, the receiver is not
// running or the delivery store or outbox fails (nothing remembered, so
// GitHub's redelivery works); 200 for a delivery already accepted; 202
// once the event is queued (and, with an Outbox, saved).
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.received.Add(1)
	if r.Method != http.MethodPost {
		h.invalid.Add(1)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > h.limits.MaxBody {
		h.invalid.Add(1)
		http.Error(w, h.tooLarge().Error(), http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case h.readers <- struct{}{}:
		defer func() { <-h.readers }()
	default:
		h.refuseBusy(w, fmt.Sprintf("%d deliveries are being read (max_readers); redeliver later", h.limits.MaxReaders))
		return
	}
	var held int64 // of the body budget, given back once the buffer is no longer used
	defer func() { h.budget.give(held) }()
	body, status, err := h.readBody(w, r, &held)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			h.refuseBusy(w, err.Error())
			return
		}
		h.invalid.Add(1)
		http.Error(w, err.Error(), status)
		return
	}
	if !h.verify(r.Header.Get(HeaderSignature), body) {
		h.unauthorized.Add(1)
		http.Error(w, "invalid or missing "+HeaderSignature, http.StatusUnauthorized)
		return
	}

	eventType := r.Header.Get(HeaderEvent)
	deliveryID := r.Header.Get(HeaderDelivery)
	if eventType == "" || deliveryID == "" {
		h.invalid.Add(1)
		http.Error(w, "missing "+HeaderEvent+" or "+HeaderDelivery+" header", http.StatusBadRequest)
		return
	}
	log := h.logger.With(logKeyDelivery, deliveryID, logKeyEvent, eventType)
	if eventType == "ping" {
		h.ignored.Add(1)
		webhookReply(w, http.StatusOK, "pong")
		return
	}
	if !handledEvents[eventType] {
		h.ignored.Add(1)
		webhookReply(w, http.StatusAccepted, "ignored: medic does not handle "+eventType+" events")
		return
	}
	payload, err := payloadJSON(r.Header.Get("Content-Type"), body)
	if err == nil {
		var ev Event
		ev, err = parseEvent(eventType, payload)
		if err == nil {
			ev.DeliveryID = deliveryID
			h.accept(w, r.Context(), log, ev, payload)
			return
		}
	}
	h.invalid.Add(1)
	log.Debug("github webhook payload refused", "error", err)
	http.Error(w, "parse "+eventType+" payload: "+err.Error(), http.StatusBadRequest)
}

// accept reserves a place in the queue before the delivery is marked as
// seen (or saved in the outbox, leased to this receiver), so a delivery is
// remembered only once it is sure to be handled: a full queue or a failing
// store answers 503 and remembers nothing.
func (h *WebhookHandler) accept(w http.ResponseWriter, ctx context.Context, log *slog.Logger, ev Event, payload []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.accepting {
		h.dropped.Add(1)
		http.Error(w, "medic is not accepting deliveries now; redeliver later", http.StatusServiceUnavailable)
		return
	}
	select {
	case h.slots <- struct{}{}:
	default:
		h.dropped.Add(1)
		log.Warn("github webhook queue full")
		http.Error(w, "queue full; redeliver later", http.StatusServiceUnavailable)
		return
	}
	var (
		first bool
		err   error
	)
	if h.outbox != nil {
		now := h.now()
		first, err = h.outbox.SaveEvent(ctx, forge.WebhookEvent{
			DeliveryID: ev.DeliveryID, Type: ev.Type, Payload: payload, ReceivedAt: now,
			ClaimedBy: h.owner, ClaimedUntil: now.Add(h.lease),
		})
	} else {
		first, err = h.deliveries.FirstDelivery(ctx, ev.DeliveryID, h.now())
	}
	if err != nil || !first {
		<-h.slots
		if err != nil {
			h.dropped.Add(1)
			log.Error("record github webhook delivery", "error", err)
			http.Error(w, "cannot record the delivery now; redeliver later", http.StatusServiceUnavailable)
			return
		}
		h.duplicates.Add(1)
		webhookReply(w, http.StatusOK, "duplicate delivery "+ev.DeliveryID+": already accepted")
		return
	}
	if h.outbox != nil {
		h.hold(ev.DeliveryID)
	}
	// Never blocks: this request holds one of the queue's slots.
	h.queue <- webhookJob{ev: ev, saved: h.outbox != nil}
	h.enqueued.Add(1)
	webhookReply(w, http.StatusAccepted, "accepted")
}

func webhookReply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// refuseBusy answers 503 with a Retry-After of BodyTimeout, by when every
// body being read now has arrived or been cut, and closes the connection
// rather than read the rest of the body.
func (h *WebhookHandler) refuseBusy(w http.ResponseWriter, msg string) {
	h.busy.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.limits.BodyTimeout.Seconds()))))
	w.Header().Set("Connection", "close")
	http.Error(w, msg, http.StatusServiceUnavailable)
}

func (h *WebhookHandler) tooLarge() error {
	return fmt.Errorf("payload larger than %d bytes (max_body)", h.limits.MaxBody)
}

// readBody reads the body into one buffer, the one the signature is
// checked on, the payload parsed from and saved in the outbox. The buffer
// starts at the declared length or WebhookBodyFloor, whichever is smaller,
// and grows only when it is full, by doubling up to the declared length
// (or MaxBody without one): so it never holds more than twice what has
// arrived, and its last size is the body's. Each growth beyond the floor
// is reserved from the body budget, into *held; a growth the budget cannot
// hold refuses the body with 503. The body must arrive within BodyTimeout
// (408), and be at most MaxBody (413).
func (h *WebhookHandler) readBody(w http.ResponseWriter, r *http.Request, held *int64) ([]byte, int, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.limits.BodyTimeout)) // unsupported by test recorders only
	body, status, err := h.readBodyIn(w, r, held)
	if err != nil {
		// The rest of the body is not read: close the connection
		// rather than wait for it.
		w.Header().Set("Connection", "close")
		return nil, status, err
	}
	// Once the body is in, the handler's own work is not bounded by the
	// body's deadline (a late background read would cancel the request's
	// context).
	_ = rc.SetReadDeadline(time.Time{})
	return body, 0, nil
}

func (h *WebhookHandler) readBodyIn(w http.ResponseWriter, r *http.Request, held *int64) ([]byte, int, error) {
	want := r.ContentLength
	if want < 0 {
		want = h.limits.MaxBody
	}
	src := http.MaxBytesReader(w, r.Body, h.limits.MaxBody)
	buf := make([]byte, 0, min(want, WebhookBodyFloor))
	var one [1]byte
	for {
		if len(buf) == cap(buf) {
			if int64(cap(buf)) >= want {
				// Full at the declared length or the limit: the next
				// read must end the body.
				n, err := src.Read(one[:])
				if n > 0 {
					return nil, http.StatusRequestEntityTooLarge, h.tooLarge()
				}
				if err == nil {
					continue
				}
				return h.ended(buf, err)
			}
			grown := min(max(2*int64(cap(buf)), WebhookBodyFloor), want)
			need := overFloor(grown) - overFloor(int64(cap(buf)))
			if !h.budget.take(need) {
				return nil, http.StatusServiceUnavailable, fmt.Errorf("the webhook body budget of %d bytes (body_budget) is in use; redeliver later", h.limits.BodyBudget)
			}
			*held += need
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == nil {
			continue
		}
		return h.ended(buf, err)
	}
}

// ended answers a body read that returned err: the body on io.EOF, else
// why it did not arrive.
func (h *WebhookHandler) ended(buf []byte, err error) ([]byte, int, error) {
	if errors.Is(err, io.EOF) {
		return buf, 0, nil
	}
	status, err := h.readError(err)
	return nil, status, err
}

// readError is the answer to a body that failed to arrive.
func (h *WebhookHandler) readError(err error) (int, error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, h.tooLarge()
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusRequestTimeout, fmt.Errorf("payload not received within %s (body_timeout)", h.limits.BodyTimeout)
	}
	return http.StatusBadRequest, fmt.Errorf("read payload: %w", err)
}

// overFloor is the part of a buffer of capacity c the body budget holds.
func overFloor(c int64) int64 { return max(0, c-WebhookBodyFloor) }

// byteBudget is a count of bytes that takes fail rather than overdraw.
type byteBudget struct {
	limit int64
	used  atomic.Int64
}

func (b *byteBudget) take(n int64) bool {
	if n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *byteBudget) give(n int64) {
	if n > 0 {
		b.used.Add(-n)
	}
}

func (b *byteBudget) inUse() int64 { return b.used.Load() }

// verify checks a "sha256=<hex>" signature of body against every secret,
// in constant time.
func (h *WebhookHandler) verify(header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return false
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	match := false
	for _, secret := range h.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), sig) {
			match = true
		}
	}
	return match
}

// payloadJSON returns the JSON payload: the body itself, or the payload
// field of a form-encoded delivery (a webhook set to
// application/x-www-form-urlencoded).
func payloadJSON(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("decode form: %w", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, errors.New("form has no payload field")
	}
	return []byte(p), nil
}

// parseEvent parses a payload into go-github's typed event and extracts
// the fields every handler needs.
func parseEvent(eventType string, payload []byte) (Event, error) {
	parsed, err := gh.ParseWebHook(eventType, payload)
	if _, isTime := errors.AsType[*time.ParseError](err); isTime {
		// Some deliveries (GitHub's own check_run rerequested example)
		// carry timestamps as "2006-01-02 15:04:05", which go-github's
		// Timestamp refuses; retry once with those rewritten to RFC 3339.
		if fixed, ok := normalizeTimestamps(payload); ok {
			parsed, err = gh.ParseWebHook(eventType, fixed)
		}
	}
	if err != nil {
		return Event{}, err
	}
	ev := Event{Type: eventType, Payload: parsed}
	if p, ok := parsed.(interface{ GetAction() string }); ok {
		ev.Action = p.GetAction()
	}
	if p, ok := parsed.(interface{ GetInstallation() *gh.Installation }); ok {
		ev.InstallationID = p.GetInstallation().GetID()
	}
	if p, ok := parsed.(interface{ GetSender() *gh.User }); ok {
		ev.Sender = p.GetSender().GetLogin()
	}
	switch p := parsed.(type) {
	case interface{ GetRepo() *gh.Repository }:
		r := p.GetRepo()
		ev.Repo = eventRepo(r.GetOwner().GetLogin(), r.GetName(), r.GetFullName())
	case *gh.PushEvent:
		r := p.GetRepo()
		owner := r.GetOwner().GetLogin()
		if owner == "" {
			owner = r.GetOwner().GetName()
		}
		ev.Repo = eventRepo(owner, r.GetName(), r.GetFullName())
	}
	return ev, nil
}

// eventRepo prefers owner and name, and falls back on "owner/name".
func eventRepo(owner, name, fullName string) forge.Repo {
	if owner != "" && name != "" {
		return forge.Repo{Owner: owner, Name: name}
	}
	if o, n, ok := strings.Cut(fullName, "/"); ok {
		return forge.Repo{Owner: o, Name: n}
	}
	return forge.Repo{Owner: owner, Name: name}
}

var looseTimestamp = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$`)

// normalizeTimestamps rewrites zone-less "YYYY-MM-DD hh:mm:ss" values of
// keys ending in _at as RFC 3339 in UTC. ok is false when nothing changed.
func normalizeTimestamps(payload []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	changed := false
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && strings.HasSuffix(k, "_at") {
					if m := looseTimestamp.FindStringSubmatch(s); m != nil {
						v[k] = m[1] + "T" + m[2] + "Z"
						changed = true
					}
					continue
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	if !changed {
		return nil, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false
	}
	return out, true
}
