module github.com/sportello/sportello/test

go 1.26
