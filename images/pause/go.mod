// The pod sandbox image's program for the test cluster. See ../build.sh.
module hydrant.local/images/pause

go 1.26.0
