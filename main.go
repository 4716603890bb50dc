// Command jab is a scriptable XMPP client that keeps resource locks
// (XEP-0296) and message threads (XEP-0201) between runs.
package main

import (
	"os"

	"github.com/jab-xmpp/jab/commands"
)

func main() {
	os.Exit(commands.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
