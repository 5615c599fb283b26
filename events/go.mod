module github.com/sportello/sportello/events

go 1.26
