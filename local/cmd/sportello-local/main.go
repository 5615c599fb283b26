// Command sportello-local runs Sportello on one machine with one command:
// a private PostgreSQL (its data kept between runs), every function as its
// own process, an event sink and a gateway that routes /api and serves the
// site. Ctrl-C stops everything; a second Ctrl-C stops waiting for the
// functions to drain.
//
//	sportello-local [-data DIR] [-port 8080] [-pg-port 55432] [-bin DIR] [-listen ADDR] [-quiet]
//	sportello-local -clean [-data DIR]
//
// `make run` builds and starts it; `make clean` removes its data.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sportello/sportello/local/stack"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		data   = flag.String("data", "", "data folder (default $SPORTELLO_DATA, else <repository>/.run)")
		bin    = flag.String("bin", "", "where to build the functions (default <data>/bin)")
		listen = flag.String("listen", "127.0.0.1", "the gateway's address")
		port   = flag.Int("port", 8080, "the gateway's port")
		pgPort = flag.Int("pg-port", 55432, "PostgreSQL's port on 127.0.0.1")
		quiet  = flag.Bool("quiet", false, "hide PostgreSQL's and the functions' output unless one fails")
		clean  = flag.Bool("clean", false, "remove the data folder (and PostgreSQL's, when kept elsewhere) and exit")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sportello-local: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		return 2
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sportello-local:", err)
		return 1
	}
	root, err := stack.RepoRoot(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sportello-local:", err)
		return 1
	}
	if *data == "" {
		*data = stack.DefaultDataDir(root)
	}

	if *clean {
		removed, err := stack.Clean(*data)
		for _, d := range removed {
			fmt.Println("removed", d)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sportello-local:", err)
			return 1
		}
		if len(removed) == 0 {
			fmt.Println("nothing to remove")
		}
		return 0
	}

	s := stack.New(stack.Config{Root: root, Data: *data, Bin: *bin, Listen: *listen, Port: *port, PGPort: *pgPort, Quiet: *quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "sportello-local: second interrupt: killing the functions instead of waiting for them to drain")
		s.Kill()
	}()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sportello-local:", err)
		return 1
	}
	return 0
}
