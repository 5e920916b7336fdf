// Tests share one broker and one database server and some of them stop the broker: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
