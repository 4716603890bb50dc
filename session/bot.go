package session

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Bot answers messages: `listen --exec` runs it with a handler that runs
// a command, and any front end may drive it with its own. Each eligible
// message is handed to its handler; the handler's answer goes back as a
// reply in the same conversation, type and thread, addressed by the
// conversation's lock (XEP-0296), with an In-Reply-To header (XEP-0201 0.3
// §8).
//
// Concurrency: messages go to one of Concurrency workers chosen by the
// sender's bare JID, so one conversation's replies always leave in the
// order its messages came, whatever the concurrency. Each worker has a
// bounded queue; when it is full, Enqueue waits (listen stops reading, and
// the server holds the stanzas back over TCP) until a slot frees: nothing
// is dropped.

// BotQueue is how many messages may wait per worker.
const BotQueue = 256

// BotOptions configures a Bot.
type BotOptions struct {
	Account        JID
	LockIdle       time.Duration
	Concurrency    int
	IncludeDelayed bool // answer delayed (offline) messages too
	// Answer computes the reply to ev, "" for none; limit is the server's
	// stanza limit. It must return when ctx ends.
	Answer func(ctx context.Context, ev Event, limit int) (string, error)
	// Problem is told why a message got no reply: the handler's error, or
	// the reply's.
	Problem func(ev Event, err error)
	// Notice is told of the queue-full and stop conditions.
	Notice func(msg string)
	// Rooms are listen's rooms, nil for none: a bot answers there only a
	// message that addresses its nick (muc_bot.go).
	Rooms *Rooms
}

type botJob struct {
	ev Event
	s  *Session // the session it arrived on
}

// Bot is the answering machine; see BotOptions.
type Bot struct {
	o    BotOptions
	env  Env
	live *Live

	queues []chan botJob
	wg     sync.WaitGroup // jobs queued or running
	done   sync.WaitGroup // workers

	cancel  context.CancelFunc
	skipped atomic.Int64 // messages left unanswered by Stop

	mu      sync.Mutex
	full    bool // a queue-full notice was given and not yet cleared
	stopped bool
}

// NewBot returns a Bot that sends its replies through live.
func NewBot(env Env, live *Live, o BotOptions) *Bot {
	b := &Bot{o: o, env: env, live: live}
	b.queues = make([]chan botJob, max(o.Concurrency, 1))
	for i := range b.queues {
		b.queues[i] = make(chan botJob, BotQueue)
	}
	return b
}

// Start runs the workers until ctx ends or Stop is called.
func (b *Bot) Start(ctx context.Context) {
	ctx, b.cancel = context.WithCancel(ctx)
	for _, q := range b.queues {
		b.done.Add(1)
		go func() {
			defer b.done.Done()
			for job := range q {
				if ctx.Err() == nil {
					b.run(ctx, job)
				} else {
					b.skipped.Add(1)
				}
				b.wg.Done()
			}
		}()
	}
}

// Stop ends the bot when listen ends: the session is gone, so handlers
// still running are cancelled and queued messages are not handled. It
// returns how many messages were left unanswered (they are in the
// history, and were shown).
func (b *Bot) Stop() int64 {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return 0
	}
	b.stopped = true
	b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
	for _, q := range b.queues {
		close(q)
	}
	b.done.Wait()
	return b.skipped.Load()
}

// Eligible says whether the bot answers ev: never errors, headlines, group
// chat, presence, empty bodies, our own account's messages, or delayed
// (offline) ones unless IncludeDelayed.
func (b *Bot) Eligible(ev Event) bool {
	if ev.Room != "" {
		return b.roomEligible(ev)
	}
	if ev.Kind != KindMessage || ev.Body == "" || ev.Error != "" {
		return false
	}
	if ev.Encrypted && !ev.Verified {
		// D-23: an encrypted message whose sender is not proven runs
		// nothing; anyone could have written it.
		return false
	}
	if ev.Type != "chat" && ev.Type != "normal" {
		return false
	}
	if ev.Delayed && !b.o.IncludeDelayed {
		return false
	}
	if ev.Carbon != "" || ev.Sent {
		// Item 84: never an answer to what our other device sent, nor to
		// what it received: that device answers, and two answers would go.
		return false
	}
	from, err := ParseJID(ev.From)
	return err == nil && from.Bare() != b.o.Account.Bare()
}

// worker is the queue of ev's conversation.
func (b *Bot) worker(ev Event) int {
	from, _ := ParseJID(ev.From)
	h := fnv.New32a()
	io.WriteString(h, from.Bare())
	return int(h.Sum32() % uint32(len(b.queues)))
}

// Enqueue hands ev to its conversation's worker, waiting while that
// worker's queue is full (and giving notice once per episode).
func (b *Bot) Enqueue(ctx context.Context, ev Event) error {
	q := b.queues[b.worker(ev)]
	job := botJob{ev: ev, s: b.live.Current()}
	b.wg.Add(1)
	select {
	case q <- job:
		b.mu.Lock()
		b.full = false
		b.mu.Unlock()
		return nil
	default:
	}
	b.mu.Lock()
	if !b.full {
		b.full = true
		if b.o.Notice != nil {
			b.o.Notice(fmt.Sprintf("%d messages wait for CMD; reading paused until one is handled (nothing is dropped)", BotQueue))
		}
	}
	b.mu.Unlock()
	select {
	case q <- job:
		return nil
	case <-ctx.Done():
		b.wg.Done()
		return ctx.Err()
	}
}

// Drain waits until every queued message has been handled.
func (b *Bot) Drain() { b.wg.Wait() }

// ErrReplyTooLarge: the handler's reply is over the server's limit.
var ErrReplyTooLarge = errors.New("the reply is over the server's limit")

func (b *Bot) problem(ev Event, err error) {
	if b.o.Problem != nil {
		b.o.Problem(ev, err)
	}
}

// run answers one message.
func (b *Bot) run(ctx context.Context, job botJob) {
	ev := job.ev
	limit := 256 * 1024
	if s := b.live.Current(); s != nil && s.Conn().MaxStanza() > 0 {
		limit = s.Conn().MaxStanza()
	}
	reply, err := b.o.Answer(ctx, ev, limit)
	if ctx.Err() != nil {
		b.skipped.Add(1)
		return
	}
	if err != nil {
		b.problem(ev, err)
		return
	}
	reply = strings.TrimRight(reply, "\r\n")
	if strings.TrimSpace(reply) == "" {
		return
	}
	if err := b.Reply(ctx, job.s, ev, reply); err != nil {
		if ctx.Err() != nil {
			b.skipped.Add(1)
			return
		}
		b.problem(ev, err)
	}
}

// Reply sends body as the answer to ev, which arrived on the session
// arrived (nil if unknown): to the contact's bare JID, so the lock
// addresses it (D-4), or to a MUC occupant's full JID (D-12), never the
// room; in ev's type and thread, with In-Reply-To. A reply whose
// connection was lost under it is sent once on the next connection.
func (b *Bot) Reply(ctx context.Context, arrived *Session, ev Event, body string) error {
	if ev.Room != "" {
		return b.roomReply(ctx, ev, body)
	}
	from, err := ParseJID(ev.From)
	if err != nil {
		return err
	}
	to := JID{Local: from.Local, Domain: from.Domain}
	if ev.Occupant {
		to = from
	}
	var dead *Session
	for attempt := 0; ; attempt++ {
		s, err := b.live.WaitAfter(ctx, dead)
		if err != nil {
			return err
		}
		// The lock is vouched for only on the session the message came
		// in on, and only if the message could lock (not delayed, D-15):
		// after a reconnect, or for an old message, D-9 applies as usual.
		so := SendOptions{Account: b.o.Account, To: []JID{to}, Type: ev.Type,
			Thread: ev.Thread, LockIdle: b.o.LockIdle, Trust: s == arrived && !ev.Delayed}
		if ev.Encrypted {
			// D-23: what answers an encrypted message is encrypted
			// too; without a way to, the answer is not sent.
			if b.env.E2E == nil {
				return &E2EError{Peer: to.Bare(), Problem: "the message was encrypted, and there is no key to encrypt the answer"}
			}
			so.E2E = b.env.E2E
		}
		_, err = SendOne(ctx, b.env, s, so, Outgoing{Body: body, InReplyTo: ev.ID})
		if err == nil || attempt > 0 || s.Err() == nil {
			return err
		}
		var tl *StanzaTooLargeError
		if errors.As(err, &tl) {
			return err
		}
		// The connection was lost under us: send it on the next one.
		dead = s
	}
}
