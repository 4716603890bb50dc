package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jab-xmpp/jab/internal/reliability"
)

// reliabilityCases are the flaky-network scenarios of issue 12: 1,000
// chat messages to the account's bare JID at a steady rate while a
// `jab listen` loses its path three times (a 5 s black hole, then a cut),
// or while Prosody restarts under it.
var reliabilityCases = []reliability.Scenario{
	{Name: "stream management on, 3 black holes", Modules: []string{"smacks"}},
	{Name: "stream management off, archive on, 3 black holes", Modules: []string{"mam"}},
	{Name: "Prosody restarted (SIGTERM, start), archive and stream management on", Modules: []string{"smacks", "mam"}, Fault: reliability.Restart},
}

// reliabilityTable runs the scenarios with jabBin and prints what listen
// printed of the messages: lost and duplicated.
func reliabilityTable(jabBin string) error {
	fmt.Println()
	fmt.Println("Reliability (issue 12): what `jab listen` printed of 1,000 messages sent to the bare JID while its path failed")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  scenario\tlost\tduplicated\tconnections\ttarget")
	for _, sc := range reliabilityCases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		res, err := reliability.Run(ctx, jabBin, sc, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		verdict := "holds"
		if res.Lost != 0 || res.Duplicated != 0 {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "  %s\t%d of %d\t%d\t%d\t0 lost, 0 duplicated: %s\n", sc.Name, res.Lost, res.Sent, res.Duplicated, res.Connects, verdict)
	}
	return w.Flush()
}
