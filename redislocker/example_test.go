package redislocker_test

import (
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/redislocker"
)

// Every instance behind the load balancer runs this with the same Redis
// and the same shared store, here a directory on a shared file system.
// The example is compiled, not run: it needs a Redis server.
func Example() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // required: CallTimeout bounds every call
	})
	defer client.Close()

	locker, err := redislocker.New(client, redislocker.Options{
		Lease:  30 * time.Second,
		Logger: slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close() // after the HTTP server has shut down

	store, err := filestore.New("/mnt/shared/uploads")
	if err != nil {
		log.Fatal(err)
	}
	composer := tus.NewStoreComposer()
	store.UseIn(composer)
	locker.UseIn(composer)

	handler, err := tus.NewHandler(tus.Config{
		StoreComposer:      composer,
		BasePath:           "/files/",
		AcquireLockTimeout: 20 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/files/", http.StripPrefix("/files/", handler))
	log.Fatal(http.ListenAndServe(":8080", nil))
}
