// Command ankurah-storage-memory serves the in-memory storage engine as a
// storage plugin. A host starts it with storageplugin.Open; run by hand it
// only explains that it is a plugin.
package main

import (
	"github.com/ankurah/ankurah-go/core/storage/memory"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func main() {
	storageplugin.Serve(memory.New())
}
