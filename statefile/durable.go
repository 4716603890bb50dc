package statefile

import "context"

// Deferred durability. Store.Update and History.Append return once their
// change is in place: a reader sees it, and a crash of the process cannot
// lose or tear it. What is left then is the last fsync, which makes it
// survive a crash of the machine: the directory's, after the state file's
// rename (its content is synced before the rename, so a power failure
// leaves the old file or the new one, never a part), or the history
// file's, after its append (a power failure may drop the last records;
// a torn one is skipped like any torn line).
//
// Under a context from WithSyncLater that fsync is handed to later
// instead of being waited for. A long-running observer uses it for what
// it records after a handed-off message went out (the bookkeeping and the
// history), so that the waiting client is answered one fsync sooner
// (issue 11); it runs the fsyncs at once in the background and logs their
// errors. What routes a message (a new lock or thread) is never written
// under such a context: it is durable before the message goes.

type syncLaterKey struct{}

// WithSyncLater returns a context under which Update and Append hand their
// final fsync to later rather than run it. later must run it: soon, and
// exactly once.
func WithSyncLater(ctx context.Context, later func(sync func() error)) context.Context {
	return context.WithValue(ctx, syncLaterKey{}, later)
}

// syncNowOrLater runs sync, or hands it to ctx's later (WithSyncLater).
func syncNowOrLater(ctx context.Context, sync func() error) error {
	if later, ok := ctx.Value(syncLaterKey{}).(func(func() error)); ok && later != nil {
		later(sync)
		return nil
	}
	return sync()
}
