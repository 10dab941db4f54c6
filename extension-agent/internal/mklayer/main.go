// Command mklayer packs an extension binary into a Lambda layer zip: the binary becomes
// extensions/<name> (Lambda runs every executable in /opt/extensions; the file name is the
// extension's name), with its exec bit and a fixed timestamp so the zip is reproducible.
//
//	go run ./extension-agent/internal/mklayer -o dist/azlens-agent-layer-amd64.zip dist/amd64/azlens-agent
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "", "zip file to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mklayer -o layer.zip path/to/extension-binary")
		os.Exit(2)
	}
	if err := writeLayer(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "mklayer:", err)
		os.Exit(1)
	}
}
