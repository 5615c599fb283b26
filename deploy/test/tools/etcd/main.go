// Command etcd is etcd's server, built from a pinned go.etcd.io/etcd/server/v3
// for the deploy tests' API server (deploy/test/apiserver_test.go builds it
// once into the tool cache).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
