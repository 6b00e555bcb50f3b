//! Helpers for the two-part slices a ring-buffer channel hands out
//! (`peek_slice` / `poke_slice` return the part up to the end of the buffer
//! and the part that wrapped to its start).

/// Calls `f` on matching contiguous pieces of the first `n` items of a
/// two-part source and a two-part destination, in order.
pub fn zip_parts<S, D>(
    src: (&[S], &[S]),
    dst: (&mut [D], &mut [D]),
    n: usize,
    mut f: impl FnMut(&[S], &mut [D]),
) {
    let src_parts = [src.0, src.1];
    let dst_parts = [dst.0, dst.1];
    let (mut si, mut so, mut di, mut dof, mut done) = (0usize, 0usize, 0usize, 0usize, 0usize);
    while done < n {
        let s_left = src_parts[si].len() - so;
        if s_left == 0 {
            si += 1;
            so = 0;
            continue;
        }
        let d_left = dst_parts[di].len() - dof;
        if d_left == 0 {
            di += 1;
            dof = 0;
            continue;
        }
        let m = s_left.min(d_left).min(n - done);
        f(&src_parts[si][so..so + m], &mut dst_parts[di][dof..dof + m]);
        so += m;
        dof += m;
        done += m;
    }
}

/// Calls `f(piece, index_of_first_item)` on the first `n` items of a
/// two-part destination.
pub fn fill_parts<D>(dst: (&mut [D], &mut [D]), n: usize, mut f: impl FnMut(&mut [D], usize)) {
    let first = n.min(dst.0.len());
    f(&mut dst.0[..first], 0);
    if n > first {
        f(&mut dst.1[..n - first], first);
    }
}

/// Splits the first `n` items of a two-part source into consecutive chunks
/// of at most `chunk` items; each chunk is handed over as (up to) two pieces
/// because a chunk may straddle the wrap-around point.
pub fn for_each_chunk<T>(src: (&[T], &[T]), n: usize, chunk: usize, mut f: impl FnMut(&[T], &[T])) {
    let (a, b) = src;
    let mut pos = 0;
    while pos < n {
        let end = (pos + chunk).min(n);
        if end <= a.len() {
            f(&a[pos..end], &[]);
        } else if pos >= a.len() {
            f(&b[pos - a.len()..end - a.len()], &[]);
        } else {
            f(&a[pos..], &b[..end - a.len()]);
        }
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_parts_covers_every_split() {
        let src: Vec<u32> = (0..10).collect();
        for s_split in 0..=10 {
            for d_split in 0..=12 {
                for n in 0..=10 {
                    let mut dst = vec![0u32; 12];
                    let (da, db) = dst.split_at_mut(d_split);
                    let (sa, sb) = src.split_at(s_split);
                    zip_parts((sa, sb), (da, db), n, |s, d| {
                        for (x, y) in s.iter().zip(d.iter_mut()) {
                            *y = x + 100;
                        }
                    });
                    let want: Vec<u32> = (0..12)
                        .map(|i| if i < n as u32 { i + 100 } else { 0 })
                        .collect();
                    assert_eq!(dst, want, "s_split {s_split} d_split {d_split} n {n}");
                }
            }
        }
    }

    #[test]
    fn fill_parts_numbers_items_across_the_wrap() {
        for split in 0..=6 {
            let mut buf = [0usize; 6];
            let (a, b) = buf.split_at_mut(split);
            fill_parts((a, b), 5, |piece, start| {
                for (i, x) in piece.iter_mut().enumerate() {
                    *x = start + i + 1;
                }
            });
            let mut joined = [0usize; 6];
            joined[..split].copy_from_slice(&buf[..split]);
            joined[split..].copy_from_slice(&buf[split..]);
            assert_eq!(&joined[..5], &[1, 2, 3, 4, 5], "split {split}");
        }
    }

    #[test]
    fn for_each_chunk_straddles_the_wrap() {
        let data: Vec<u8> = (0..11).collect();
        for split in 0..=11 {
            let (a, b) = data.split_at(split);
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            for_each_chunk((a, b), 11, 4, |p, q| {
                sizes.push(p.len() + q.len());
                seen.extend_from_slice(p);
                seen.extend_from_slice(q);
            });
            assert_eq!(seen, data, "split {split}");
            assert_eq!(sizes, vec![4, 4, 3], "split {split}");
        }
    }
}
