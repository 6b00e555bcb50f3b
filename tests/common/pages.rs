//! Where in a redb file (format 3, as redb 4.6 writes it) one byte
//! changes the size of a page: the damage that once asked for 4 GiB.

/// The offsets of the top bytes of the child page references in redb's
/// branch pages: a branch page (4 KiB, type byte 2) holds `n` keys, then
/// `n + 1` child checksums of 16 bytes from offset 8, then `n + 1` child
/// page numbers of 8 bytes, whose top 5 bits are the page's order (its
/// size is 4 KiB << order). Setting that byte to 0xa0 makes order 20: a
/// 4 GiB page, the largest redb 4.6 accepts. Pages no longer in use are
/// listed too (the file keeps old copies); mutating those is harmless.
pub fn branch_child_order_bytes(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 4096;
    let mut found = Vec::new();
    for page in (PAGE..bytes.len()).step_by(PAGE) {
        if bytes.len() < page + PAGE || bytes[page] != 2 {
            continue;
        }
        let keys = u16::from_le_bytes([bytes[page + 2], bytes[page + 3]]) as usize;
        let children = keys + 1;
        let numbers = page + 8 + 16 * children;
        if keys == 0 || numbers + 8 * children > page + PAGE {
            continue;
        }
        found.extend((0..children).map(|i| numbers + 8 * i + 7));
    }
    found
}

/// The offsets of the top bytes of the table roots in redb's table
/// definitions, found in leaf pages (type byte 1) whose entries are table
/// names and definitions: `n` entries, `n` key ends and `n` value ends
/// (u32, from the page's start), then the keys, then the values. A
/// definition is its table type (3 or 4), its length (u64), a byte saying
/// it has a root, and the root's page number (u64), whose top byte is 17
/// bytes into it. Old copies of pages are listed too.
pub fn table_root_order_bytes(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 4096;
    let u32_at = |at: usize| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    };
    let mut found = Vec::new();
    for page in (PAGE..bytes.len()).step_by(PAGE) {
        if bytes.len() < page + PAGE || bytes[page] != 1 {
            continue;
        }
        let n = u16::from_le_bytes([bytes[page + 2], bytes[page + 3]]) as usize;
        let data = 4 + 8 * n;
        if n == 0 || data > PAGE {
            continue;
        }
        let key_ends: Vec<usize> = (0..n).map(|i| u32_at(page + 4 + 4 * i)).collect();
        let value_ends: Vec<usize> = (0..n).map(|i| u32_at(page + 4 + 4 * (n + i))).collect();
        let mut start = data;
        let mut keys = Vec::new();
        for &end in &key_ends {
            if end <= start || end > PAGE {
                break;
            }
            keys.push(&bytes[page + start..page + end]);
            start = end;
        }
        if keys.len() != n {
            continue;
        }
        for (i, &end) in value_ends.iter().enumerate() {
            if end <= start || end > PAGE {
                break;
            }
            let value = &bytes[page + start..page + end];
            let named = keys[i].iter().all(|b| b.is_ascii_lowercase() || *b == b'_');
            if named && value.len() > 22 && matches!(value[0], 3 | 4) && value[9] == 1 {
                found.push(page + start + 17);
            }
            start = end;
        }
    }
    found
}
