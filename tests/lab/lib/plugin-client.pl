#!/usr/bin/perl
# dockersim's plugin client (see dockersim.sh): one long-lived process per test that POSTs
# to libnetwork plugin sockets the way dockerd's plugin client does (HTTP/1.1 over a unix
# socket, no Content-Type, Docker's Accept header), because under the lab's emulated CPU
# every process start costs ~0.5-1 s (curl ~1 s, jq ~0.8 s) and a test makes many calls.
#
# Reads requests, one per line: SOCKET \t PATH \t BODY (BODY: JSON on one line, or empty).
# Answers each with:
#   CODE N          HTTP status (0 when the socket did not answer) and the count of lines
#   BODY            the answer body on one line (or, for CODE 0, what went wrong)
#   KEY \t VALUE    N lines: the answer's JSON flattened: nested keys joined with ".",
#                   array items by index, empty arrays and objects as [] and {}, null as
#                   null, booleans as true/false; \, tab and newline escaped as \\ \t \n.
use strict;
use warnings;
use IO::Socket::UNIX;
use JSON::PP;

my $timeout = $ENV{SIM_TIMEOUT} || 60;
my $json = JSON::PP->new->allow_nonref;
$| = 1;

sub esc {
    my ($s) = @_;
    $s =~ s/\\/\\\\/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    return $s;
}

sub flatten {
    my ($prefix, $v, $out) = @_;
    my $key = sub { $prefix eq '' ? $_[0] : "$prefix.$_[0]" };
    if (ref $v eq 'HASH') {
        if (!%$v) { push @$out, [$prefix, '{}']; return; }
        flatten($key->($_), $v->{$_}, $out) for sort keys %$v;
    } elsif (ref $v eq 'ARRAY') {
        if (!@$v) { push @$out, [$prefix, '[]']; return; }
        flatten($key->($_), $v->[$_], $out) for 0 .. $#$v;
    } elsif (!defined $v) {
        push @$out, [$prefix, 'null'];
    } elsif (JSON::PP::is_bool($v)) {
        push @$out, [$prefix, $v ? 'true' : 'false'];
    } else {
        push @$out, [$prefix, "$v"];
    }
}

sub post {
    my ($sock, $path, $body) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $sock)
        or return (0, "cannot connect to $sock: $!");
    my $request = "POST /$path HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . "Accept: application/vnd.docker.plugins.v1.2+json\r\nConnection: close\r\n\r\n$body";
    my $raw = '';
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $timeout;
        print {$s} $request or die "write: $!\n";
        while (1) {
            my $n = sysread($s, my $chunk, 65536);
            die "read: $!\n" unless defined $n;
            last if $n == 0;
            $raw .= $chunk;
        }
        alarm 0;
        1;
    };
    close $s;
    return (0, "no answer from $sock within $timeout s") if !$ok && $@ eq "timeout\n";
    return (0, "talking to $sock: $@") unless $ok;
    my ($head, $content) = split /\r\n\r\n/, $raw, 2;
    return (0, "not an HTTP answer from $sock: $raw") unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3})};
    my $code = $1;
    $content //= '';
    if ($head =~ /^transfer-encoding:\s*chunked/mi) {
        my $plain = '';
        while ($content =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $size = hex $1;
            last if $size == 0;
            $plain .= substr($content, 0, $size, '');
            $content =~ s/^\r\n//;
        }
        $content = $plain;
    } elsif ($head =~ /^content-length:\s*(\d+)/mi) {
        $content = substr($content, 0, $1);
    }
    return ($code, $content);
}

while (my $line = <STDIN>) {
    chomp $line;
    my ($sock, $path, $body) = split /\t/, $line, 3;
    my ($code, $content) = post($sock // '', $path // '', $body // '');
    my @pairs;
    if ($code) {
        my $value = eval { $json->decode($content) };
        flatten('', $value, \@pairs) if defined $value || $content =~ /^\s*null\s*$/;
    }
    (my $one = $content) =~ s/[\r\n]+/ /g;
    print "$code " . scalar(@pairs) . "\n$one\n";
    print esc($_->[0]) . "\t" . esc($_->[1]) . "\n" for @pairs;
}
